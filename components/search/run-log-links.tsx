// The run page's "Download log" links (GET /api/runs/<id>/log): the events
// and command output as a text file or as NDJSON.
import { DownloadIcon } from "@/components/ui/icons";

export function RunLogLinks({ runId }: { runId: string }) {
  const href = (format: "text" | "ndjson") => `/api/runs/${encodeURIComponent(runId)}/log?format=${format}`;
  return (
    <p className="mb-2 flex flex-wrap items-center justify-end gap-x-3 gap-y-1 text-sm text-fg-muted">
      <DownloadIcon size={14} />
      <span>Download log:</span>
      <a href={href("text")} download className="underline-offset-2 hover:text-fg hover:underline" data-testid="run-log-download">
        text
      </a>
      <a href={href("ndjson")} download className="underline-offset-2 hover:text-fg hover:underline">
        NDJSON
      </a>
    </p>
  );
}
