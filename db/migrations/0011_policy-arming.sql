CREATE TABLE `project_egress_grants` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`entry` text NOT NULL,
	`approval_id` text,
	`run_id` text,
	`granted_by` text,
	`reason` text NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `project_egress_grants_project_idx` ON `project_egress_grants` (`project_id`);