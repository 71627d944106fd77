/**
 * The names the local server answers to (docs/api.md section 9): the loopback address and `localhost`,
 * so a page whose own name was rebound to 127.0.0.1 (DNS rebinding) is refused, plus the host of
 * GANTRY_PUBLIC_URL when a tunnel or proxy in front of the server forwards under its own name.
 */
const LOOPBACK_NAMES = ['127.0.0.1', '[::1]', 'localhost'];

/** The host name of a Host header, lower case and without its port; undefined when it is not `name[:port]`. */
export function hostName(header: string | undefined): string | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.exec(header ?? '');
  return match?.[1]?.toLowerCase();
}

/** Whether a request's Host header names this server. */
export function hostGuard(publicUrl: string | undefined): (header: string | undefined) => boolean {
  const names = new Set(LOOPBACK_NAMES);
  if (publicUrl && URL.canParse(publicUrl)) names.add(new URL(publicUrl).hostname.toLowerCase());
  return (header) => {
    const name = hostName(header);
    return name !== undefined && names.has(name);
  };
}
