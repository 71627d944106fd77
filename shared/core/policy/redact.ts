import { type PolicyBody, REDACTED } from '../schemas/config';

/**
 * A policy as the API shows it: a verification header given as a plain string comes back as
 * "[redacted]" (it may be a token), a `{"secretRef"}` as it was given. A client that PUTs back what it
 * read sends the plain values again; "[redacted]" itself is refused.
 */
export function redactPolicy(policy: PolicyBody): PolicyBody {
  const metrics = policy.rules.verification?.metrics;
  if (!metrics) return policy;
  const redacted = metrics.map((metric) => {
    const { provider } = metric;
    if (provider.type !== 'http' || !provider.headers) return metric;
    const headers = Object.fromEntries(
      Object.entries(provider.headers).map(([name, value]) => [
        name,
        typeof value === 'string' ? REDACTED : value,
      ]),
    );
    return { ...metric, provider: { ...provider, headers } };
  });
  return { ...policy, rules: { ...policy.rules, verification: { metrics: redacted } } };
}
