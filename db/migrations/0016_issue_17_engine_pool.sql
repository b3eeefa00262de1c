CREATE TABLE `engines` (
	`name` text PRIMARY KEY NOT NULL,
	`endpoint` text NOT NULL,
	`local` integer DEFAULT false NOT NULL,
	`labels` text DEFAULT '[]' NOT NULL,
	`capacity_runs` integer,
	`capacity_cpus` real,
	`capacity_memory_mb` integer,
	`draining` integer DEFAULT false NOT NULL,
	`credentials_enc` text,
	`source` text DEFAULT 'ui' NOT NULL,
	`down_since` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `engine_labels` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `engine` text;