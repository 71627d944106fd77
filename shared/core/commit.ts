/** The commit a version names in its metadata: `commit` (documented), or `sha` or `commitSha`. */
export const commitOf = (metadata: Record<string, string> | undefined): string | undefined =>
  metadata?.commit || metadata?.sha || metadata?.commitSha || undefined;
