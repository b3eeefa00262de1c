CREATE TABLE `notification_preferences` (
	`user_id` text PRIMARY KEY NOT NULL,
	`push_enabled` integer DEFAULT true NOT NULL,
	`email_enabled` integer DEFAULT false NOT NULL,
	`events` text NOT NULL,
	`project_ids` text,
	`quiet_start` text,
	`quiet_end` text,
	`time_zone` text DEFAULT 'UTC' NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `approvals` ADD `expiring_notified_at` integer;--> statement-breakpoint
ALTER TABLE `projects` ADD `escalate_after_minutes` integer;--> statement-breakpoint
ALTER TABLE `projects` ADD `escalate_to` text DEFAULT 'admins' NOT NULL;