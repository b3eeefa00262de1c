/** A short, honest list of what a placeholder page will do once its feature lands. */
export function ComingNext({ items }: { items: string[] }) {
  return (
    <section aria-label="Coming next" className="mt-6 rounded-xl border border-border bg-surface p-4 sm:p-5">
      <h2 className="text-sm font-semibold text-fg">Coming next</h2>
      <ul className="mt-2 space-y-1.5 text-sm text-fg-muted">
        {items.map((item) => (
          <li key={item} className="flex gap-2">
            <span aria-hidden="true" className="mt-2 size-1.5 shrink-0 rounded-full bg-border-strong" />
            {item}
          </li>
        ))}
      </ul>
    </section>
  );
}
