CREATE TABLE "org_invitations" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"token_hash" text NOT NULL,
	"role" text NOT NULL,
	"invited_by" text,
	"expires_at" timestamp with time zone NOT NULL,
	"accepted_at" timestamp with time zone,
	"accepted_by" text,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "org_invitations_role_not_owner" CHECK ("org_invitations"."role" <> 'owner')
);
--> statement-breakpoint
CREATE TABLE "org_members" (
	"org_id" text NOT NULL,
	"user_id" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "org_members_org_id_user_id_pk" PRIMARY KEY("org_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"personal_owner_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_personalOwnerId_unique" UNIQUE("personal_owner_id")
);
--> statement-breakpoint
DROP INDEX "credentials_user_id_service_type_index";--> statement-breakpoint
DROP INDEX "instances_user_id_service_type_index";--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "display_name" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "tool_allowlist" text[];--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "read_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "rate_limit_per_minute" integer;--> statement-breakpoint
-- Every existing user gets their personal organisation (owner), and what they own moves into it.
INSERT INTO "organizations" ("id", "name", "personal_owner_id") SELECT 'org_' || replace(gen_random_uuid()::text, '-', ''), 'Personal', "id" FROM "users";--> statement-breakpoint
INSERT INTO "org_members" ("org_id", "user_id", "role") SELECT "id", "personal_owner_id", 'owner' FROM "organizations" WHERE "personal_owner_id" IS NOT NULL;--> statement-breakpoint
UPDATE "api_keys" SET "org_id" = o."id" FROM "organizations" o WHERE o."personal_owner_id" = "api_keys"."user_id";--> statement-breakpoint
UPDATE "credentials" SET "org_id" = o."id" FROM "organizations" o WHERE o."personal_owner_id" = "credentials"."user_id";--> statement-breakpoint
UPDATE "instances" SET "org_id" = o."id" FROM "organizations" o WHERE o."personal_owner_id" = "instances"."user_id";--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "credentials" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "org_invitations" ADD CONSTRAINT "org_invitations_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_invitations" ADD CONSTRAINT "org_invitations_invited_by_users_id_fk" FOREIGN KEY ("invited_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_invitations" ADD CONSTRAINT "org_invitations_accepted_by_users_id_fk" FOREIGN KEY ("accepted_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_members" ADD CONSTRAINT "org_members_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_members" ADD CONSTRAINT "org_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_personal_owner_id_users_id_fk" FOREIGN KEY ("personal_owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "org_invitations_token_hash_index" ON "org_invitations" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "org_invitations_org_id_index" ON "org_invitations" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "org_members_user_id_index" ON "org_members" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_org_created_idx" ON "audit_events" USING btree ("org_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_org_user_service_idx" ON "credentials" USING btree ("org_id","user_id","service_type");--> statement-breakpoint
CREATE INDEX "credentials_user_id_index" ON "credentials" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "instances_org_user_service_idx" ON "instances" USING btree ("org_id","user_id","service_type");--> statement-breakpoint
CREATE INDEX "instances_user_id_index" ON "instances" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_rate_limit_bounds" CHECK ("instances"."rate_limit_per_minute" is null or "instances"."rate_limit_per_minute" between 1 and 100000);