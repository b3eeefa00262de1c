"use client";
// A terminal-style log: ANSI colours (anser), virtualised rows
// (@tanstack/react-virtual) so 100 000 lines scroll smoothly, follows the tail
// unless the reader scrolls up, then offers "Jump to latest".
import Anser from "anser";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useLayoutEffect, useRef, useState, type CSSProperties } from "react";
import { cn } from "@/lib/cn";
import { ChevronDownIcon } from "@/components/ui/icons";
import { useIsWide } from "@/components/ui/use-media-query";
import { displayText, type LogBuffer, type LogLine } from "@/components/log/log-buffer";

const ROW_HEIGHT = 20;
const numberFormat = new Intl.NumberFormat("en-US");

export interface LogViewProps {
  /** The buffer is appended to in place; `version` changes whenever it grows. */
  buffer: LogBuffer;
  version: number;
  /** Accessible name, e.g. "Output of run_command #3". */
  label: string;
  /** Whether more output may still arrive (shows a live marker). */
  live?: boolean;
  className?: string;
  /** Maximum height of the scroll area in pixels. */
  maxHeight?: number;
}

export function LogView({ buffer, version, label, live = false, className, maxHeight = 420 }: LogViewProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  // Long lines wrap on phones and scroll sideways on wide screens, unless the reader chooses.
  const wide = useIsWide();
  const [wrapChoice, setWrapChoice] = useState<boolean | null>(null);
  const wrap = wrapChoice ?? !wide;
  const lastScrollTop = useRef(0);
  const count = buffer.visibleCount;

  // eslint-disable-next-line react-hooks/incompatible-library -- TanStack Virtual returns functions the React Compiler can't memoise; this component is not compiled.
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });

  const totalSize = virtualizer.getTotalSize();

  // Stay at the bottom while following, whenever lines arrive or rows are measured.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el || !follow) return;
    el.scrollTop = el.scrollHeight;
    lastScrollTop.current = el.scrollTop;
  }, [follow, count, version, totalSize]);

  const onScroll = useCallback(() => {
    const el = scrollRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    // Only a move up is the reader's doing; re-measured rows above can shift the position down.
    if (atBottom) setFollow(true);
    else if (el.scrollTop < lastScrollTop.current - 2) setFollow(false);
    lastScrollTop.current = el.scrollTop;
  }, []);

  const jumpToLatest = () => {
    setFollow(true);
    const el = scrollRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  const [copied, setCopied] = useState(false);
  async function copyAll() {
    try {
      await navigator.clipboard.writeText(buffer.toText());
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  }

  const items = virtualizer.getVirtualItems();
  const height = Math.min(Math.max(totalSize, ROW_HEIGHT) + 16, maxHeight);

  return (
    <div className={cn("overflow-hidden rounded-lg border border-zinc-800 bg-zinc-950 text-zinc-100", className)} data-testid="log-view">
      <div className="flex items-center justify-between gap-2 border-b border-zinc-800 px-3 py-1.5 text-[11px] text-zinc-400">
        <span aria-live="off" data-testid="log-line-count">
          {numberFormat.format(count + buffer.dropped)} line{count + buffer.dropped === 1 ? "" : "s"}
          {buffer.dropped ? ` (first ${numberFormat.format(buffer.dropped)} not kept)` : ""}
          {live ? (
            <span className="ml-2 inline-flex items-center gap-1 text-emerald-400">
              <span aria-hidden="true" className="size-1.5 animate-pulse rounded-full bg-emerald-400" />
              live
            </span>
          ) : null}
        </span>
        <span className="flex items-center gap-1">
          <button
            type="button"
            aria-pressed={wrap}
            onClick={() => setWrapChoice(!wrap)}
            className="rounded px-1.5 py-0.5 hover:bg-zinc-800 hover:text-zinc-100 aria-pressed:text-zinc-100"
          >
            Wrap lines
          </button>
          <button type="button" onClick={copyAll} className="rounded px-1.5 py-0.5 hover:bg-zinc-800 hover:text-zinc-100" aria-label={`Copy ${label}`}>
            {copied ? "Copied" : "Copy"}
          </button>
        </span>
      </div>
      <div className="relative">
        <div
          ref={scrollRef}
          role="log"
          aria-label={label}
          aria-live="off"
          tabIndex={0}
          onScroll={onScroll}
          style={{ height }}
          className="overflow-auto overscroll-contain py-2 font-mono text-[12px] leading-5 focus-visible:outline-offset-[-2px]"
        >
          {count === 0 ? (
            <p className="px-3 text-zinc-500">{live ? "Waiting for output…" : "No output."}</p>
          ) : (
            <div style={{ height: totalSize, position: "relative", minWidth: "100%" }} className={wrap ? undefined : "w-max"}>
              {items.map((item) => (
                <LogRow
                  key={item.key}
                  index={item.index}
                  line={buffer.lines[item.index]!}
                  wrap={wrap}
                  measure={virtualizer.measureElement}
                  start={item.start}
                />
              ))}
            </div>
          )}
        </div>
        {!follow && count > 0 ? (
          <button
            type="button"
            onClick={jumpToLatest}
            className="absolute right-3 bottom-3 inline-flex items-center gap-1 rounded-full bg-accent px-3 py-1.5 text-xs font-medium text-accent-fg shadow-lg hover:bg-accent-hover"
          >
            <ChevronDownIcon size={14} />
            Jump to latest
          </button>
        ) : null}
      </div>
    </div>
  );
}

function LogRow({ index, line, wrap, measure, start }: { index: number; line: LogLine; wrap: boolean; measure: (el: Element | null) => void; start: number }) {
  // The last line grows in place, so pass its text (not the line object) to the memoised part.
  return <LogRowContent index={index} text={displayText(line)} stderr={line.stream === "stderr"} wrap={wrap} measure={measure} start={start} />;
}

const LogRowContent = memo(function LogRowContent({
  index,
  text,
  stderr,
  wrap,
  measure,
  start,
}: {
  index: number;
  text: string;
  stderr: boolean;
  wrap: boolean;
  measure: (el: Element | null) => void;
  start: number;
}) {
  return (
    <div
      ref={measure}
      data-index={index}
      data-log-line=""
      style={{ transform: `translateY(${start}px)` }}
      className={cn(
        "absolute top-0 left-0 min-h-5 min-w-full px-3",
        wrap ? "w-full break-all whitespace-pre-wrap" : "whitespace-pre",
        stderr && "text-rose-300",
      )}
    >
      <AnsiText text={text} />
    </div>
  );
});

function AnsiText({ text }: { text: string }) {
  if (!text.includes("\x1b")) return <>{text}</>;
  const parts = Anser.ansiToJson(text, { json: true, remove_empty: true });
  return (
    <>
      {parts.map((p, i) => {
        const style: CSSProperties = {};
        if (p.fg) style.color = `rgb(${p.fg})`;
        if (p.bg) style.backgroundColor = `rgb(${p.bg})`;
        const d = p.decorations ?? [];
        if (d.includes("bold")) style.fontWeight = 700;
        if (d.includes("dim")) style.opacity = 0.7;
        if (d.includes("italic")) style.fontStyle = "italic";
        if (d.includes("underline")) style.textDecoration = "underline";
        if (d.includes("strikethrough")) style.textDecoration = "line-through";
        if (d.includes("hidden")) style.visibility = "hidden";
        return (
          <span key={i} style={style}>
            {p.content}
          </span>
        );
      })}
    </>
  );
}
