ALTER TABLE `projects` ADD `max_concurrent_runs` integer;--> statement-breakpoint
ALTER TABLE `projects` ADD `runtime` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `runtime` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `queue_reason` text;