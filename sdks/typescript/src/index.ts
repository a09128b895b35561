import { VERSION } from "./version";

export { VERSION };

export type Channel = "whatsapp" | "sms" | "voice";

export interface VerifyClientOptions {
  apiKey: string;
  baseUrl?: string;
  timeoutMs?: number;
}

export interface Verification {
  id: string;
  status: string;
  channel: Channel;
  [key: string]: unknown;
}

/** The Verify API rejected a request; `status` and `problem` contain its response. */
export class VerifyError extends Error {
  constructor(
    public readonly status: number,
    public readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${String(problem.title ?? "error")}: ${String(problem.detail ?? "")}`);
  }
}

/** Starts verifications and checks one-time codes. */
export class VerifyClient {
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: VerifyClientOptions) {
    if (!options.apiKey) {
      throw new Error("apiKey is required");
    }
    this.apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? "https://api.example-sms.com").replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Sends a one-time code to `phoneNumber` (E.164) over `channel`. */
  start(phoneNumber: string, channel: Channel = "sms"): Promise<Verification> {
    return this.request("/v1/verify", { phone_number: phoneNumber, channel });
  }

  /** Checks the `code` the user entered for `verificationId`. */
  check(verificationId: string, code: string): Promise<Record<string, unknown>> {
    return this.request(`/v1/verify/${encodeURIComponent(verificationId)}/check`, { code });
  }

  private async request<T>(path: string, body: Record<string, unknown>): Promise<T> {
    const response = await fetch(this.baseUrl + path, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${this.apiKey}`,
        "Content-Type": "application/json",
        "User-Agent": `example-sms-verify-node/${VERSION}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      throw new VerifyError(response.status, payload);
    }
    return payload as T;
  }
}
