ALTER TABLE "api_keys" ADD COLUMN "scopes" text[] DEFAULT '{"instances:read","instances:write","usage:read","audit:read","org:admin"}' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_scopes_not_empty" CHECK (cardinality("api_keys"."scopes") > 0);