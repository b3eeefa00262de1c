// A real SMTP server on loopback (the smtp-server package) that parses every
// mail it accepts with mailparser, for tests of the email channel.
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import type { SmtpSettings } from "@/server/config/env";

export interface TestSmtpServer {
  host: string;
  port: number;
  /** Parsed mails, in the order they arrived, with the envelope's recipients. */
  mails: (ParsedMail & { envelopeTo: string[] })[];
  /** TCP connections the server accepted (0: nobody dialled it). */
  connections: number;
  settings(from?: string): SmtpSettings;
  close(): Promise<void>;
}

export async function startSmtpServer(host = "127.0.0.1"): Promise<TestSmtpServer> {
  const state = { mails: [] as TestSmtpServer["mails"], connections: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onConnect(_session, callback) {
      state.connections += 1;
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          state.mails.push(Object.assign(mail, { envelopeTo: session.envelope.rcptTo.map((r) => r.address) }));
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    host,
    port,
    mails: state.mails,
    get connections() {
      return state.connections;
    },
    settings: (from = "airlock@airlock.test") => ({ host, port, secure: false, from }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
