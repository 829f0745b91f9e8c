/**
 * Text with the userinfo of every URL in it hidden: `redis://user:secret@host` → `redis://user:***@host`, and a
 * lone user part (often a token) → `***`. Works on malformed URLs too, which is when config errors show them.
 * Everything before the last `@` of a URL counts as userinfo, so an unescaped `@` in a password leaks nothing.
 */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s"'<>]*)/gi, (_match, scheme: string, rest: string) => {
    const at = rest.lastIndexOf("@");
    if (at < 0) return `${scheme}${rest}`;
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(":");
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : "***"}${rest.slice(at)}`;
  });
}
