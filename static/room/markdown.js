// Message formatting: the small Markdown subset the room page shows, turned
// into DOM nodes one by one (textContent, createElement, setAttribute) and
// never into HTML, so no text a user typed is ever parsed by the browser as
// markup. The stored text stays exactly what was typed; only its display
// changes (editing shows the raw text again).
//
//   **bold**   *italic* or _italic_   ~~strike~~   `inline code`
//   ```            a code block (an optional language word after the
//   code           opening fence is dropped), kept verbatim
//   ```
//   > quoted       consecutive lines starting with ">" form a block quote
//   https://…      http and https URLs become links (new tab, no referrer,
//                  nofollow); nothing else does: `javascript:` stays text
//   @name          a mention: span.mention (.mention-me for the reader)
//
// `parse` is the node-free core: text in, a plain tree out, so it can be
// tested anywhere (tests/api/js/markdown_test.mjs, run in the browser by
// tests/api/browser.rs). `render` builds the DOM from that tree.

/** The URL schemes that are linked. */
const LINKED = /^https?:\/\//i;
/** A URL: a linked scheme and everything up to white space or `<`. */
const URL_AT = /^https?:\/\/[^\s<>"]+/i;
/** Characters a username may hold (src/domain/names.rs), `@` aside. */
const NAME_AT = /^@([A-Za-z0-9_.+-]+)/;
/** Closes a URL or a name rather than belonging to it, at its very end. */
const TRAILING_PUNCTUATION = /[.,;:!?'"*_~-]+$/;

// ---------------------------------------------------------------------
// The tree
//
//   { type: "text", text }                 plain text (line breaks kept)
//   { type: "strong" | "em" | "del", children }
//   { type: "code", text }                 inline code
//   { type: "link", href, text }
//   { type: "mention", name }
//   { type: "quote", children }            a block quote (inline children)
//   { type: "codeblock", text }
// ---------------------------------------------------------------------

/** Parses a message's text into the tree above: a list of nodes. */
export function parse(text) {
  // A block (quote, code) is a line of its own: the line breaks around it
  // are its edges, not text, so paragraphs are joined only within.
  const lines = String(text).split("\n");
  const out = [];
  let paragraph = [];
  const endParagraph = () => {
    if (paragraph.length > 0) {
      out.push(...parseInline(paragraph.join("\n")));
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (/^ {0,3}```/.test(line)) {
      const close = lines.findIndex((l, j) => j > i && /^ {0,3}```\s*$/.test(l));
      if (close !== -1) {
        endParagraph();
        out.push({ type: "codeblock", text: lines.slice(i + 1, close).join("\n") });
        i = close;
        continue;
      }
    }
    if (/^ {0,3}>/.test(line)) {
      endParagraph();
      const quoted = [];
      while (i < lines.length && /^ {0,3}>/.test(lines[i])) {
        quoted.push(lines[i].replace(/^ {0,3}> ?/, ""));
        i += 1;
      }
      i -= 1;
      out.push({ type: "quote", children: parseInline(quoted.join("\n")) });
      continue;
    }
    paragraph.push(line);
  }
  endParagraph();
  return merge(out);
}

/** Joins neighbouring text nodes. */
function merge(nodes) {
  const out = [];
  for (const node of nodes) {
    const last = out[out.length - 1];
    if (node.type === "text" && last && last.type === "text") last.text += node.text;
    else if (node.type !== "text" || node.text !== "") out.push(node);
  }
  return out;
}

/** Whether `ch` is a letter or digit (any script): delimiters inside words do not count. */
function isWordChar(ch) {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

/**
 * Where the span opened by `delim` at `from` closes: the next `delim` with
 * something before it that does not end in white space; -1 if none. A
 * single `*` or `_` never closes on half of a double one.
 */
function closing(text, delim, from) {
  let at = text.indexOf(delim, from);
  while (at !== -1) {
    const inner = text.slice(from, at);
    const single = delim.length === 1;
    const doubled = single && (text[at + 1] === delim || text[at - 1] === delim);
    const wordAfter = single && isWordChar(text[at + 1]);
    if (inner.trim() !== "" && !/\s$/.test(inner) && !doubled && !wordAfter) return at;
    at = text.indexOf(delim, at + (doubled ? 2 : 1));
  }
  return -1;
}

/** Inline spans of `text`: emphasis, code, links, mentions, and text. */
export function parseInline(text) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain !== "") out.push({ type: "text", text: plain });
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const prev = text[i - 1];
    const rest = text.slice(i);

    if (ch === "`") {
      const run = /^`+/.exec(rest)[0];
      const end = text.indexOf(run, i + run.length);
      if (end !== -1 && end > i + run.length) {
        flush();
        out.push({ type: "code", text: text.slice(i + run.length, end) });
        i = end + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }

    const double = rest.startsWith("**") ? "**" : rest.startsWith("~~") ? "~~" : rest.startsWith("__") ? "__" : "";
    if (double && !/\s/.test(text[i + 2] ?? " ")) {
      const end = closing(text, double, i + 2);
      if (end !== -1) {
        flush();
        const type = double === "~~" ? "del" : "strong";
        out.push({ type, children: parseInline(text.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }

    // Single delimiters only at word edges: snake_case and 2*3*4 stay text.
    if ((ch === "*" || ch === "_") && !isWordChar(prev) && !/\s/.test(text[i + 1] ?? " ")
      && text[i + 1] !== ch) {
      const end = closing(text, ch, i + 1);
      if (end !== -1) {
        flush();
        out.push({ type: "em", children: parseInline(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }

    if ((ch === "h" || ch === "H") && !isWordChar(prev) && LINKED.test(rest)) {
      const url = trimUrl(URL_AT.exec(rest)[0]);
      if (url.length > rest.indexOf("//") + 2) {
        flush();
        out.push({ type: "link", href: url, text: url });
        i += url.length;
        continue;
      }
    }

    if (ch === "@" && !isWordChar(prev) && prev !== "@") {
      const match = NAME_AT.exec(rest);
      const name = match ? match[1].replace(TRAILING_PUNCTUATION, "") : "";
      if (name !== "") {
        flush();
        out.push({ type: "mention", name });
        i += 1 + name.length;
        continue;
      }
    }

    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

/** A URL without the punctuation that ends the sentence around it (a `)` only if unbalanced). */
function trimUrl(url) {
  let out = url.replace(TRAILING_PUNCTUATION, "");
  while (out.endsWith(")") && count(out, "(") < count(out, ")")) {
    out = out.slice(0, -1).replace(TRAILING_PUNCTUATION, "");
  }
  return out;
}

function count(text, ch) {
  return text.split(ch).length - 1;
}

/** The tree's text without any formatting (what a screen reader or a quote needs). */
export function plainText(nodes) {
  return nodes.map((node) => {
    if (node.type === "mention") return `@${node.name}`;
    if (node.children) return plainText(node.children);
    return node.text;
  }).join("");
}

// ---------------------------------------------------------------------
// The DOM
// ---------------------------------------------------------------------

/**
 * The nodes that show `text`, formatted, for a reader named `me` (whose
 * mentions stand out): a DocumentFragment built without any HTML parsing.
 */
export function render(text, me, doc = document) {
  const fragment = doc.createDocumentFragment();
  appendNodes(fragment, parse(text), String(me || "").toLowerCase(), doc);
  return fragment;
}

function appendNodes(parent, nodes, me, doc) {
  for (const node of nodes) parent.append(renderNode(node, me, doc));
}

const TAGS = { strong: "strong", em: "em", del: "del", quote: "blockquote" };

function renderNode(node, me, doc) {
  switch (node.type) {
    case "text":
      return doc.createTextNode(node.text);
    case "code": {
      const code = doc.createElement("code");
      code.className = "md-code";
      code.textContent = node.text;
      return code;
    }
    case "codeblock": {
      const pre = doc.createElement("pre");
      pre.className = "md-pre";
      const code = doc.createElement("code");
      code.textContent = node.text;
      pre.append(code);
      return pre;
    }
    case "link": {
      // Checked again here: only http(s) ever becomes an href.
      if (!LINKED.test(node.href)) return doc.createTextNode(node.text);
      const a = doc.createElement("a");
      a.className = "md-link";
      a.setAttribute("href", node.href);
      a.setAttribute("rel", "noopener noreferrer nofollow");
      a.setAttribute("target", "_blank");
      a.textContent = node.text;
      return a;
    }
    case "mention": {
      const span = doc.createElement("span");
      span.className = node.name.toLowerCase() === me ? "mention mention-me" : "mention";
      span.textContent = `@${node.name}`;
      return span;
    }
    default: {
      const element = doc.createElement(TAGS[node.type] || "span");
      element.className = `md-${node.type}`;
      appendNodes(element, node.children || [], me, doc);
      return element;
    }
  }
}
