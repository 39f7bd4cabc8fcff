-- The least-privilege role a certbridge agent connects to the fleet database as: it may read
-- the schema version and the event log, append events, and report heartbeats and inventory;
-- it may not change or delete an event, nor create or alter anything. Run as the owner of the
-- schema (the role that ran `certbridge fleet init`), after init; README "Fleet" shows it.
CREATE ROLE certbridge_agent LOGIN;
GRANT USAGE ON SCHEMA certbridge TO certbridge_agent;
GRANT SELECT ON certbridge.schema_version TO certbridge_agent;
GRANT SELECT, INSERT ON certbridge.events TO certbridge_agent;
GRANT USAGE ON SEQUENCE certbridge.events_id_seq TO certbridge_agent;
GRANT SELECT, INSERT, UPDATE ON certbridge.nodes TO certbridge_agent;
GRANT SELECT, INSERT, DELETE ON certbridge.inventory TO certbridge_agent;
