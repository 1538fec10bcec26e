-- A least-privilege PostgreSQL set-up for Onewindow (docs/operations.md, "A least-privilege PostgreSQL role").
-- Run once as a superuser:   psql -v owner=onewindow_owner -v app=onewindow_app -v schema=onewindow -f postgres-roles.sql
-- The owner holds the schema and runs `onewindow migrate`; the gateways connect as the app role, which may
-- read and write rows but never change the schema, drop a table or touch another schema.
CREATE ROLE :"owner" LOGIN;
CREATE ROLE :"app" LOGIN;
CREATE SCHEMA :"schema" AUTHORIZATION :"owner";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"app";
-- What the owner creates from now on (every table and sequence of every migration) the app may use:
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"schema"
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"schema"
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app";
