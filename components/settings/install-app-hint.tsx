"use client";
// "Install on your phone": how to add Airlock to a home screen. Chrome and Edge
// (Android, desktop) fire beforeinstallprompt, so they get an Install button;
// iOS Safari has no such event, so its Share-menu steps are always shown.
import { useEffect, useState } from "react";
import { Button } from "@/components/ui/button";
import { Card, CardHeader } from "@/components/ui/card";
import { LogoIcon } from "@/components/ui/icons";

// Not in TypeScript's DOM library (Chromium only).
interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: "accepted" | "dismissed" }>;
}

export function InstallAppHint() {
  const [prompt, setPrompt] = useState<BeforeInstallPromptEvent | null>(null);
  const [installed, setInstalled] = useState(false);

  useEffect(() => {
    const standalone = window.matchMedia("(display-mode: standalone)");
    const sync = () => setInstalled(standalone.matches);
    sync();
    const onPrompt = (e: Event) => {
      e.preventDefault(); // keep the event so the button below can show the browser's dialog
      setPrompt(e as BeforeInstallPromptEvent);
    };
    const onInstalled = () => {
      setPrompt(null);
      setInstalled(true);
    };
    window.addEventListener("beforeinstallprompt", onPrompt);
    window.addEventListener("appinstalled", onInstalled);
    standalone.addEventListener("change", sync);
    return () => {
      window.removeEventListener("beforeinstallprompt", onPrompt);
      window.removeEventListener("appinstalled", onInstalled);
      standalone.removeEventListener("change", sync);
    };
  }, []);

  async function install() {
    if (!prompt) return;
    await prompt.prompt();
    await prompt.userChoice;
    setPrompt(null); // the event can be used once
  }

  return (
    <Card aria-labelledby="install-app-title" data-testid="install-app-hint">
      <CardHeader
        titleId="install-app-title"
        title="Install on your phone"
        description="Airlock works as an app from your home screen, so requests are one tap away."
        icon={<LogoIcon size={18} />}
        actions={
          prompt ? (
            <Button variant="primary" onClick={install}>
              Install app
            </Button>
          ) : null
        }
      />
      <div className="px-4 py-4 text-sm sm:px-5">
        {installed ? <p className="mb-3 font-medium text-success">Airlock is running as an installed app on this device.</p> : null}
        <ul className="list-disc space-y-1.5 pl-5 text-fg">
          <li>
            <span className="font-medium">iPhone and iPad (Safari):</span> tap Share, then <span className="font-medium">Add to Home Screen</span>.
          </li>
          <li>
            <span className="font-medium">Android (Chrome):</span> open the ⋮ menu and choose <span className="font-medium">Install app</span> (or{" "}
            <span className="font-medium">Add to Home screen</span>){prompt ? ", or use the Install app button above" : ""}.
          </li>
        </ul>
        <p className="mt-3 text-fg-muted">The app keeps nothing from your runs on the device: without a connection it only shows an offline notice.</p>
      </div>
    </Card>
  );
}
