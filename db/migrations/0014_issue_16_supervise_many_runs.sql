CREATE TABLE `doc_indexes` (
	`project_id` text PRIMARY KEY NOT NULL,
	`sources_hash` text NOT NULL,
	`indexed_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `doc_passages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` text NOT NULL,
	`run_id` text,
	`source` text NOT NULL,
	`path` text,
	`line_start` integer NOT NULL,
	`line_end` integer NOT NULL,
	`text` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `doc_passages_project_idx` ON `doc_passages` (`project_id`,`run_id`);--> statement-breakpoint
CREATE TABLE `review_comments` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`checkpoint_id` text NOT NULL,
	`path` text NOT NULL,
	`side` text NOT NULL,
	`line` integer NOT NULL,
	`body` text NOT NULL,
	`author_id` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer,
	`sent_at` integer,
	`sent_by` text,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`checkpoint_id`) REFERENCES `checkpoints`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`author_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`sent_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `review_comments_run_idx` ON `review_comments` (`run_id`);--> statement-breakpoint
CREATE TABLE `review_file_views` (
	`run_id` text NOT NULL,
	`user_id` text NOT NULL,
	`path` text NOT NULL,
	`diff_hash` text NOT NULL,
	`viewed_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `user_id`, `path`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `run_reruns` (
	`run_id` text PRIMARY KEY NOT NULL,
	`rerun_of` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`rerun_of`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_reruns_of_idx` ON `run_reruns` (`rerun_of`);--> statement-breakpoint
CREATE TABLE `run_resource_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` text NOT NULL,
	`at` integer NOT NULL,
	`span` integer DEFAULT 1 NOT NULL,
	`cpu_percent` integer NOT NULL,
	`cpu_cap_percent` integer NOT NULL,
	`memory_bytes` integer NOT NULL,
	`memory_cap_bytes` integer NOT NULL,
	`pids` integer NOT NULL,
	`pids_cap` integer NOT NULL,
	`workspace_bytes` integer,
	`workspace_cap_bytes` integer NOT NULL,
	`net_rx_bytes` integer,
	`net_tx_bytes` integer,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_resource_samples_run_idx` ON `run_resource_samples` (`run_id`,`at`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `scopes` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `models` ADD `retired_at` integer;--> statement-breakpoint
CREATE INDEX `tool_calls_tool_verdict_idx` ON `tool_calls` (`tool`,`verdict`);