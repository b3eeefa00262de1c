// The controls above a multi-file diff (a checkpoint's, a run's Files changed,
// two runs compared): the unified / side-by-side switch and the file count
// with the lines added and removed.
import { Segmented } from "@/components/ui/segmented";
import type { DiffMode } from "@/components/diff/diff-view";

export function DiffLayoutToggle({ value, onChange }: { value: DiffMode; onChange: (mode: DiffMode) => void }) {
  return (
    <Segmented<DiffMode>
      label="Diff layout"
      value={value}
      onChange={onChange}
      options={[
        { value: "unified", label: "Unified" },
        { value: "split", label: "Side by side" },
      ]}
    />
  );
}

export function DiffTotals({ files }: { files: readonly { additions: number; deletions: number }[] }) {
  return (
    <span>
      {files.length} file{files.length === 1 ? "" : "s"} · <span className="text-success">+{files.reduce((n, f) => n + f.additions, 0)}</span>{" "}
      <span className="text-danger">−{files.reduce((n, f) => n + f.deletions, 0)}</span>
    </span>
  );
}
