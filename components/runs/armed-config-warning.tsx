// The run page's warning that the workspace source brought configuration
// which can make later commands run programs (server/workspace/armed-config.ts
// finds the files; the policy's arming-config rule guards writes to them).
import { InlineAlert } from "@/components/ui/alert";

const SHOWN = 8;

export function ArmedConfigWarning({ files }: { files: readonly string[] | undefined }) {
  if (!files || files.length === 0) return null;
  const shown = files.slice(0, SHOWN);
  return (
    <InlineAlert tone="warning" title="This repository carries files that can make commands run programs">
      <p>
        {shown.map((f, i) => (
          <span key={f}>
            {i > 0 ? ", " : null}
            <code className="font-mono break-all">{f}</code>
          </span>
        ))}
        {files.length > SHOWN ? ` and ${files.length - SHOWN} more` : null} — review before approving: a git hook, editor task or package manager setting there
        can turn an ordinary command (git commit, npm test) into a program of the repository&apos;s choosing.
      </p>
    </InlineAlert>
  );
}
