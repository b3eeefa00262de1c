ALTER TABLE `api_tokens` ADD `scopes` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
CREATE INDEX `tool_calls_tool_verdict_idx` ON `tool_calls` (`tool`,`verdict`);