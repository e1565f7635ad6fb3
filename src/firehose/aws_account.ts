/**
 * The account of the credentials in use, for the records' `owner` field, and where the SDK's
 * chain looks for credentials (for the log line of a relay that has none).
 *
 * @module
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { type AwsOptions, clientConfig, errorCode, errorText, OWNER_TIMEOUT_MS } from "./aws_client.ts";

/**
 * The AWS account id of the credentials in use, from STS `GetCallerIdentity`, or why it
 * could not be had (after {@linkcode OWNER_TIMEOUT_MS} at most). Never throws. The SDK
 * calls the regional STS endpoint of the region in use, or `AWS_ENDPOINT_URL_STS` (or
 * `AWS_ENDPOINT_URL`) when set: a private VPC needs an STS interface endpoint there.
 */
export async function lookupAccountId(
  options: AwsOptions,
): Promise<{ account: string; error?: undefined } | { account?: undefined; error: string }> {
  const client = new STSClient(clientConfig(options, OWNER_TIMEOUT_MS));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), OWNER_TIMEOUT_MS);
  try {
    const identity = await client.send(new GetCallerIdentityCommand({}), { abortSignal: abort.signal });
    return identity.Account === undefined ? { error: "no Account in the answer" } : { account: identity.Account };
  } catch (error) {
    const why = abort.signal.aborted ? `no answer within ${OWNER_TIMEOUT_MS} ms` : errorText(error);
    return { error: `${errorCode(error)}: ${why}` };
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/**
 * The providers of the SDK's default credential chain, in its order, as the environment
 * `env` sets them up: what a relay without credentials tried (for its log line).
 */
export function credentialSources(env: (name: string) => string | undefined, profile?: string): string[] {
  const set = (name: string) => (env(name) ?? "") !== "";
  const container = set("AWS_CONTAINER_CREDENTIALS_FULL_URI") || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  return [
    `environment (AWS_ACCESS_KEY_ID${set("AWS_ACCESS_KEY_ID") ? "" : ": not set"})`,
    `shared files (profile ${profile ?? env("AWS_PROFILE") ?? "default"})`,
    "SSO",
    "credential_process",
    `web identity (AWS_WEB_IDENTITY_TOKEN_FILE${set("AWS_WEB_IDENTITY_TOKEN_FILE") ? "" : ": not set"})`,
    container
      ? "container credentials (AWS_CONTAINER_CREDENTIALS_*)"
      : env("AWS_EC2_METADATA_DISABLED")?.toLowerCase() === "true"
      ? "EC2 instance metadata (off: AWS_EC2_METADATA_DISABLED)"
      : "EC2 instance metadata",
  ];
}
