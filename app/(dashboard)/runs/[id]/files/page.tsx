import type { Metadata } from "next";
import { FilesChanged } from "@/components/review/files-changed";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

interface Props {
  params: Promise<{ id: string }>;
}

export const metadata: Metadata = { title: "Files changed" };

export default async function RunFilesPage({ params }: Props) {
  const [{ id }, identity] = await Promise.all([params, requireIdentity()]);
  // Wide: side-by-side diffs use the screen (the shell lifts its cap on this page); text blocks keep their own measure.
  return (
    <div className="mx-auto max-w-[120rem]">
      <FilesChanged key={id} runId={id} user={toSessionUser(identity)} />
    </div>
  );
}
