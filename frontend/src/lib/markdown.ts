// Answers and documents are untrusted: markdown is rendered by `marked` and every byte of
// HTML goes through DOMPurify before it reaches the DOM.
import DOMPurify from "dompurify";
import { marked } from "marked";

marked.setOptions({ gfm: true, breaks: true });

/** `[n]` (not a markdown link) becomes a link to source n of this message. */
export function linkCitations(markdown: string, anchorPrefix: string, known: Set<number>): string {
  return markdown.replace(/\[(\d{1,2})\](?![(:[])/g, (whole, digits: string) => {
    const n = Number(digits);
    if (!known.has(n)) return whole;
    return `<a class="cite" href="#${anchorPrefix}-${n}" data-cite="${n}" aria-label="source ${n}">[${n}]</a>`;
  });
}

export function renderMarkdown(markdown: string, anchorPrefix = "", known: Set<number> = new Set()): string {
  const linked = anchorPrefix ? linkCitations(markdown, anchorPrefix, known) : markdown;
  const html = marked.parse(linked, { async: false }) as string;
  return DOMPurify.sanitize(html, {
    ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|#|\/(?!\/))/i,
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "img"],
    FORBID_ATTR: ["style"],
  });
}
