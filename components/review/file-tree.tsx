"use client";
// The changed files as a tree: directories collapse, each file shows its
// +/− counts and whether the reader marked it viewed; a file links to its
// diff further down the page.
import { useMemo, useState } from "react";
import { ChevronDownIcon } from "@/components/ui/icons";
import { cn } from "@/lib/cn";

export interface TreeFile {
  path: string;
  anchor: string;
  additions: number;
  deletions: number;
  viewed: boolean;
  changedSinceViewed: boolean;
  comments: number;
}

interface DirNode {
  name: string;
  path: string;
  dirs: DirNode[];
  files: TreeFile[];
}

/** Directories first, then files, each sorted by name; a directory with one child directory only is shown as "a/b". */
export function buildFileTree(files: TreeFile[]): DirNode {
  const root: DirNode = { name: "", path: "", dirs: [], files: [] };
  for (const f of files) {
    const parts = f.path.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      let next = node.dirs.find((d) => d.name === part);
      if (!next) {
        next = { name: part, path: node.path ? `${node.path}/${part}` : part, dirs: [], files: [] };
        node.dirs.push(next);
      }
      node = next;
    }
    node.files.push(f);
  }
  const squash = (n: DirNode): DirNode => {
    let cur = n;
    while (cur.files.length === 0 && cur.dirs.length === 1 && cur !== root) {
      const only = cur.dirs[0]!;
      cur = { ...only, name: `${cur.name}/${only.name}` };
    }
    return {
      ...cur,
      dirs: cur.dirs.map(squash).sort((a, b) => a.name.localeCompare(b.name)),
      files: [...cur.files].sort((a, b) => a.path.localeCompare(b.path)),
    };
  };
  return squash(root);
}

export function FileTree({ files }: { files: TreeFile[] }) {
  const tree = useMemo(() => buildFileTree(files), [files]);
  return (
    <ul className="space-y-0.5 text-sm" aria-label="Changed files" data-testid="file-tree">
      <TreeLevel node={tree} depth={0} />
    </ul>
  );
}

function TreeLevel({ node, depth }: { node: DirNode; depth: number }) {
  return (
    <>
      {node.dirs.map((d) => (
        <DirEntry key={d.path} dir={d} depth={depth} />
      ))}
      {node.files.map((f) => (
        <li key={f.path}>
          <a
            href={`#${f.anchor}`}
            className="flex min-h-8 items-center gap-2 rounded-md px-2 py-1 hover:bg-surface-muted"
            style={{ paddingLeft: `${0.5 + depth * 0.875}rem` }}
            title={f.path}
          >
            <span
              aria-hidden="true"
              className={cn(
                "inline-flex size-3.5 shrink-0 items-center justify-center rounded-sm border text-[9px] leading-none",
                f.viewed ? "border-success bg-success text-white dark:text-bg" : "border-border-strong",
              )}
            >
              {f.viewed ? "✓" : ""}
            </span>
            <span className={cn("min-w-0 flex-1 truncate font-mono text-[13px]", f.viewed ? "text-fg-muted" : "text-fg")}>{f.path.split("/").at(-1)}</span>
            {f.changedSinceViewed ? <span className="sr-only">changed since you viewed it</span> : null}
            {f.comments ? (
              <span className="shrink-0 text-xs text-fg-muted">
                {f.comments} comment{f.comments === 1 ? "" : "s"}
              </span>
            ) : null}
            <span className="shrink-0 font-mono text-xs" aria-label={`${f.additions} added, ${f.deletions} removed`}>
              <span className="text-success">+{f.additions}</span> <span className="text-danger">−{f.deletions}</span>
            </span>
          </a>
        </li>
      ))}
    </>
  );
}

function DirEntry({ dir, depth }: { dir: DirNode; depth: number }) {
  const [open, setOpen] = useState(true);
  return (
    <li>
      <button
        type="button"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        className="flex min-h-8 w-full items-center gap-1.5 rounded-md px-2 py-1 text-left font-mono text-[13px] text-fg-muted hover:bg-surface-muted hover:text-fg"
        style={{ paddingLeft: `${0.5 + depth * 0.875}rem` }}
      >
        <ChevronDownIcon size={14} className={cn("shrink-0 transition-transform", !open && "-rotate-90")} />
        <span className="min-w-0 truncate">{dir.name}/</span>
      </button>
      {open ? (
        <ul className="space-y-0.5">
          <TreeLevel node={dir} depth={depth + 1} />
        </ul>
      ) : null}
    </li>
  );
}
