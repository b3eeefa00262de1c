CREATE TABLE `secret_grants` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`secret_id` text NOT NULL,
	`tool_call_id` text,
	`approval_id` text,
	`granted_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`secret_id`) REFERENCES `secrets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `secret_grants_run_secret_unique` ON `secret_grants` (`run_id`,`secret_id`);--> statement-breakpoint
CREATE INDEX `secret_grants_secret_idx` ON `secret_grants` (`secret_id`);--> statement-breakpoint
CREATE TABLE `secrets` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`project_id` text,
	`description` text DEFAULT '' NOT NULL,
	`value_enc` text NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`rotated_at` integer,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `secrets_name_idx` ON `secrets` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `secrets_project_name_unique` ON `secrets` (`project_id`,`name`);