-- A run that reaches a terminal status tells its owner: one Notification row, written in the SAME
-- transaction as the status change whoever makes it (the engine, a cancel, the dead-worker sweep), and a
-- NOTIFY on the run events channel naming the user, so every web process's event hub wakes that user's
-- notification streams. A trigger, because the terminal transitions live in several places and each
-- happens exactly once (guarded updates); a run that never finishes is never announced.
-- Hand-written: Prisma does not model functions or triggers.

-- CreateFunction
CREATE FUNCTION "WorkflowRun_notify_finished"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    workflow_name TEXT;
    note_seq BIGINT;
BEGIN
    SELECT "name" INTO workflow_name FROM "AIWorkflow" WHERE "id" = NEW."workflowId";
    INSERT INTO "Notification" ("userId", "runId", "kind", "title", "body")
    VALUES (
        NEW."userId",
        NEW."id",
        'run_' || NEW."status"::text,
        format('"%s" %s', coalesce(workflow_name, 'Workflow'),
            CASE NEW."status"::text
                WHEN 'succeeded' THEN 'succeeded'
                WHEN 'failed' THEN 'failed'
                WHEN 'cancelled' THEN 'was cancelled'
                ELSE 'stopped: its attempts are used up'
            END),
        CASE WHEN jsonb_typeof(NEW."error") = 'object' THEN left(NEW."error" ->> 'message', 1000) END
    )
    RETURNING "seq" INTO note_seq;
    PERFORM pg_notify(
        'run_events',
        json_build_object('runs', json_build_object(), 'users', json_build_object(NEW."userId"::text, note_seq))::text
    );
    RETURN NULL;
END;
$$;

-- CreateTrigger
CREATE TRIGGER "WorkflowRun_notify_finished"
    AFTER UPDATE OF "status" ON "WorkflowRun"
    FOR EACH ROW
    WHEN (OLD."status" IS DISTINCT FROM NEW."status"
          AND NEW."status" IN ('succeeded', 'failed', 'cancelled', 'dead'))
    EXECUTE FUNCTION "WorkflowRun_notify_finished"();
