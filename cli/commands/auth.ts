import { createApi } from "../api.ts";
import type { Command } from "../command.ts";
import {
  API_KEY_PATTERN,
  configPath,
  DEFAULT_URL,
  deleteConfig,
  normalizeUrl,
  readConfig,
  writeConfig,
} from "../config.ts";
import { UsageError } from "../errors.ts";
import { readSecret } from "../prompt.ts";

export const login: Command = {
  path: ["login"],
  summary: "Store an API key for a server (checked with the server first)",
  usage: "agentry login [--url <url>] [--key <agt_…>]",
  description:
    "Without --key, asks for the key: hidden as you type on a terminal, or the first line of stdin when it\n" +
    "is piped. The key is checked against the server, then saved with the URL in\n" +
    "$XDG_CONFIG_HOME/agentry/config.json (else ~/.config/agentry/config.json), mode 0600.\n" +
    "Create a key in Settings → API keys, with the scopes you need (projects:*, workflows:read, runs:*).",
  options: { key: { type: "string" } },
  optionHelp: [
    ["--url <url>", `Server (default: AGENTRY_URL, the stored URL, else ${DEFAULT_URL})`],
    ["--key <agt_…>", "The API key (visible in your shell history; prefer the prompt or stdin)"],
  ],
  examples: [
    "agentry login --url https://agentry.example.com",
    "pass show agentry | agentry login --url http://localhost:3000",
  ],
  args: [0, 0],
  async run(ctx, values) {
    const stored = await readConfig(ctx.io.env);
    const url = normalizeUrl(ctx.flagUrl ?? ctx.io.env.AGENTRY_URL ?? stored?.url ?? DEFAULT_URL);
    let key = typeof values.key === "string" ? values.key.trim() : "";
    if (!key) key = await readSecret(ctx.io, `API key for ${url}: `);
    if (!key) throw new UsageError("No API key given. Create one in Settings → API keys.");
    if (!API_KEY_PATTERN.test(key)) {
      throw new UsageError("That is not an Agentry API key (`agt_` followed by 39 letters and digits).");
    }
    const api = createApi({ url, key });
    const me = await api.trpc.auth.me.query();
    const file = await writeConfig(ctx.io.env, { url, key });
    if (ctx.json) {
      ctx.printJson({ url, user: me.user, credential: me.credential, configPath: file });
    } else {
      ctx.out(`Logged in to ${url} as ${me.user.email}${me.user.name ? ` (${me.user.name})` : ""}.\n`);
      ctx.out(`Scopes: ${me.credential.scopes.join(", ") || "(none)"}\nSaved to ${file}\n`);
    }
    return 0;
  },
};

export const logout: Command = {
  path: ["logout"],
  summary: "Forget the stored API key",
  usage: "agentry logout",
  description:
    "Deletes the stored config file. The key itself stays valid until you revoke it in\nSettings → API keys.",
  examples: ["agentry logout"],
  args: [0, 0],
  async run(ctx) {
    const file = configPath(ctx.io.env);
    const removed = await deleteConfig(ctx.io.env);
    if (ctx.json) ctx.printJson({ removed, configPath: file });
    else if (removed)
      ctx.out(`Logged out (removed ${file}). Revoke the key in Settings → API keys if it leaked.\n`);
    else ctx.out("Not logged in.\n");
    return 0;
  },
};

export const whoami: Command = {
  path: ["whoami"],
  summary: "Show who the stored key (or AGENTRY_API_KEY) belongs to",
  usage: "agentry whoami",
  examples: ["agentry whoami", "agentry whoami --json | jq -r .user.email"],
  args: [0, 0],
  async run(ctx) {
    const target = await ctx.target();
    const api = await ctx.api();
    const me = await api.trpc.auth.me.query();
    if (ctx.json) {
      ctx.printJson({
        url: target.url,
        user: me.user,
        credential: me.credential,
        keySource: target.keySource,
      });
    } else {
      ctx.out(`${me.user.email}${me.user.name ? ` (${me.user.name})` : ""}\n`);
      ctx.out(`Server:  ${target.url}\n`);
      ctx.out(
        `Key:     ${target.key?.slice(0, 12)}… (${target.keySource === "env" ? "AGENTRY_API_KEY" : configPath(ctx.io.env)})\n`,
      );
      ctx.out(`Scopes:  ${me.credential.scopes.join(", ") || "(none)"}\n`);
    }
    return 0;
  },
};
