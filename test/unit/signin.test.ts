import { describe, expect, it } from 'vitest';
import { identityFrom } from '../../shared/services/signin';

/** Which approver an identity provider's claims name (docs/api.md section 7): the configured claim, or nobody. */
describe('identityFrom', () => {
  it.each([
    ['sub', { sub: 'abc123' }, 'abc123'],
    ['email', { sub: 'x', email: 'alice@example.com', email_verified: true }, 'alice@example.com'],
    ['email', { sub: 'x', email: 'alice@example.com' }, 'alice@example.com'],
    ['https://slack.com/user_id', { sub: 'x', 'https://slack.com/user_id': 'U0ALICE' }, 'U0ALICE'],
  ])('%s names the approver in %j', (claim, claims, identity) => {
    expect(identityFrom(claims, claim)).toBe(identity);
  });

  it.each([
    ['a missing claim', 'email', { sub: 'x' }],
    ['an empty claim', 'email', { sub: 'x', email: '' }],
    ['a claim that is not a string', 'groups', { sub: 'x', groups: ['admins'] }],
    ['an overlong claim', 'sub', { sub: 'x'.repeat(257) }],
    [
      'an email the provider says is unverified',
      'email',
      { sub: 'x', email: 'boss@example.com', email_verified: false },
    ],
    ['the name every review link decides as', 'sub', { sub: 'link' }],
  ])('names nobody for %s', (_case, claim, claims) => {
    expect(identityFrom(claims, claim)).toBeUndefined();
  });
});
