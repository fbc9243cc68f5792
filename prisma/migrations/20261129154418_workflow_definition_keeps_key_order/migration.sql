-- AlterTable
ALTER TABLE "WorkflowVersion" ALTER COLUMN "definition" SET DATA TYPE JSON;
