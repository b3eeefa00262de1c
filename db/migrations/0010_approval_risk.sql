ALTER TABLE `approvals` ADD `risk` text;--> statement-breakpoint
ALTER TABLE `approvals` ADD `escalated_at` integer;