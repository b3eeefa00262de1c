CREATE TABLE `run_reruns` (
	`run_id` text PRIMARY KEY NOT NULL,
	`rerun_of` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`rerun_of`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_reruns_of_idx` ON `run_reruns` (`rerun_of`);