CREATE TABLE `checkpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`label` text NOT NULL,
	`kind` text NOT NULL,
	`tool_call_id` text,
	`plan_step` integer,
	`commit_sha` text NOT NULL,
	`parent_sha` text,
	`restored_from_id` text,
	`files_changed` integer DEFAULT 0 NOT NULL,
	`additions` integer DEFAULT 0 NOT NULL,
	`deletions` integer DEFAULT 0 NOT NULL,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`approved` integer DEFAULT false NOT NULL,
	`created_by` text,
	`archived_diff` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `checkpoints_run_seq` ON `checkpoints` (`run_id`,`seq`);--> statement-breakpoint
CREATE INDEX `checkpoints_tool_call_idx` ON `checkpoints` (`tool_call_id`);--> statement-breakpoint
CREATE TABLE `merge_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`repo_path` text NOT NULL,
	`branch` text NOT NULL,
	`commit_sha` text NOT NULL,
	`state` text NOT NULL,
	`requested_by` text NOT NULL,
	`note` text,
	`decided_by` text,
	`decided_at` integer,
	`decision_reason` text,
	`result_commit` text,
	`error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `merge_requests_run_idx` ON `merge_requests` (`run_id`);--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`filename` text NOT NULL,
	`format` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`file_count` integer NOT NULL,
	`expanded_bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`used_by_run_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `workspaces` (
	`run_id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`base_commit` text,
	`storage_bytes` integer DEFAULT 0 NOT NULL,
	`storage_cap_bytes` integer NOT NULL,
	`skipped_paths` text DEFAULT '[]' NOT NULL,
	`archived_diff` text,
	`cleaned_at` integer,
	`snapshot_image` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `runs` ADD `auto_rollback` text DEFAULT 'off' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `operator_may_rollback` integer DEFAULT false NOT NULL;