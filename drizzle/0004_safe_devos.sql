CREATE TABLE "usage_rollups" (
	"user_id" text NOT NULL,
	"period" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"instance_id" text NOT NULL,
	"service_type" text NOT NULL,
	"tool" text NOT NULL,
	"calls" integer NOT NULL,
	"errors" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"latency_buckets" integer[] NOT NULL,
	"upstream_calls" integer DEFAULT 0 NOT NULL,
	"upstream_ms_sum" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_rollups_pk" PRIMARY KEY("user_id","period","period_start","instance_id","service_type","tool")
);
--> statement-breakpoint
DROP INDEX "audit_events_user_id_created_at_index";--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "actor_kind" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "actor_key_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "target" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "service_type" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "upstream_ms" integer;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "ip" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "user_agent" text;--> statement-breakpoint
CREATE INDEX "audit_events_user_created_idx" ON "audit_events" USING btree ("user_id","created_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_user_instance_created_idx" ON "audit_events" USING btree ("user_id","instance_id","created_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_user_action_created_idx" ON "audit_events" USING btree ("user_id","action","created_at","id");