-- AuditEvent is append-only: once written, an audit record can be neither edited nor removed,
-- not by the application and not by a bug in it. (Retention, if ever needed, is an operator's
-- deliberate act: ALTER TABLE "AuditEvent" DISABLE TRIGGER ..., as the table owner.)
-- Hand-written: Prisma does not model functions or triggers, so schema.prisma cannot express it.

-- CreateFunction
CREATE FUNCTION "AuditEvent_reject_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'AuditEvent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- CreateTrigger
CREATE TRIGGER "AuditEvent_append_only"
    BEFORE UPDATE OR DELETE ON "AuditEvent"
    FOR EACH ROW EXECUTE FUNCTION "AuditEvent_reject_change"();

-- CreateTrigger
CREATE TRIGGER "AuditEvent_no_truncate"
    BEFORE TRUNCATE ON "AuditEvent"
    FOR EACH STATEMENT EXECUTE FUNCTION "AuditEvent_reject_change"();
