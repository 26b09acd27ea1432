// Unit tests of static/room/markdown.js's node-free core (`parse`) and of
// what `render` builds. tests/api/browser.rs runs them in Chromium on the
// room page (`run(markdown, document)` must return no failures); with Node
// they also run alone: `node tests/api/js/markdown_test.mjs`.

const CASES = [
  ["plain text\nwith a break", [{ type: "text", text: "plain text\nwith a break" }]],
  ["**bold** and *it* and _it_", [
    { type: "strong", children: [{ type: "text", text: "bold" }] },
    { type: "text", text: " and " },
    { type: "em", children: [{ type: "text", text: "it" }] },
    { type: "text", text: " and " },
    { type: "em", children: [{ type: "text", text: "it" }] },
  ]],
  ["~~gone~~ `a **b**`", [
    { type: "del", children: [{ type: "text", text: "gone" }] },
    { type: "text", text: " " },
    { type: "code", text: "a **b**" },
  ]],
  ["**bold *and it***", null], // must not throw; shape not pinned
  ["snake_case_name and 2*3*4", [{ type: "text", text: "snake_case_name and 2*3*4" }]],
  ["* not a list * and ** no **", [{ type: "text", text: "* not a list * and ** no **" }]],
  ["see https://example.com/a_(b). now", [
    { type: "text", text: "see " },
    { type: "link", href: "https://example.com/a_(b)", text: "https://example.com/a_(b)" },
    { type: "text", text: ". now" },
  ]],
  ["(http://x.org/y)", [
    { type: "text", text: "(" },
    { type: "link", href: "http://x.org/y", text: "http://x.org/y" },
    { type: "text", text: ")" },
  ]],
  ["javascript:alert(1) and data:text/html,<b>", [
    { type: "text", text: "javascript:alert(1) and data:text/html,<b>" },
  ]],
  ["hi @bob, and @carol.", [
    { type: "text", text: "hi " },
    { type: "mention", name: "bob" },
    { type: "text", text: ", and " },
    { type: "mention", name: "carol" },
    { type: "text", text: "." },
  ]],
  ["mail me@example.com", [{ type: "text", text: "mail me@example.com" }]],
  ["before\n```rust\nlet x = **1**;\n```\nafter", [
    { type: "text", text: "before" },
    { type: "codeblock", text: "let x = **1**;" },
    { type: "text", text: "after" },
  ]],
  ["```\nnever closed", [{ type: "text", text: "```\nnever closed" }]],
  ["> quoted *line*\n> two\nreply", [
    { type: "quote", children: [
      { type: "text", text: "quoted " },
      { type: "em", children: [{ type: "text", text: "line" }] },
      { type: "text", text: "\ntwo" },
    ] },
    { type: "text", text: "reply" },
  ]],
  ["<img src=x onerror=alert(1)>", [{ type: "text", text: "<img src=x onerror=alert(1)>" }]],
];

/** Runs every case; returns the failures as strings (none: all passed). */
export function run(markdown, doc) {
  const failures = [];
  const check = (name, ok, detail) => {
    if (!ok) failures.push(`${name}: ${detail}`);
  };
  for (const [text, expected] of CASES) {
    let got;
    try {
      got = markdown.parse(text);
    } catch (e) {
      failures.push(`${JSON.stringify(text)} threw ${e}`);
      continue;
    }
    if (expected !== null) {
      check(JSON.stringify(text), JSON.stringify(got) === JSON.stringify(expected), JSON.stringify(got));
    }
    check(`plain text of ${JSON.stringify(text)}`, typeof markdown.plainText(got) === "string", "not a string");
  }
  if (doc) {
    // Rendering: only elements we made, never markup from the text.
    const box = doc.createElement("div");
    box.append(markdown.render("<img src=x onerror=alert(1)> **b** [x](javascript:alert(1)) https://ok.example/p @me @you", "me", doc));
    check("no img element", box.querySelector("img") === null, box.innerHTML);
    check("the markup shows as text", box.textContent.startsWith("<img src=x onerror=alert(1)>"), box.textContent);
    const links = [...box.querySelectorAll("a")];
    check("one link", links.length === 1, box.innerHTML);
    const [a] = links;
    check("its href", a && a.getAttribute("href") === "https://ok.example/p", a && a.outerHTML);
    check("its rel", a && a.rel === "noopener noreferrer nofollow", a && a.rel);
    check("its target", a && a.target === "_blank", a && a.target);
    check("strong", box.querySelector("strong")?.textContent === "b", box.innerHTML);
    check("mention of me", box.querySelector(".mention.mention-me")?.textContent === "@me", box.innerHTML);
    check("two mentions", box.querySelectorAll(".mention").length === 2, box.innerHTML);
    const code = doc.createElement("div");
    code.append(markdown.render("```\n<script>alert(1)</script>\n```", "me", doc));
    check("code block", code.querySelector("pre code")?.textContent === "<script>alert(1)</script>", code.innerHTML);
    check("no script element", code.querySelector("script") === null, code.innerHTML);
  }
  return failures;
}

// Alone under Node: run and exit non-zero on failure.
if (typeof process !== "undefined" && process.argv && import.meta.url === `file://${process.argv[1]}`) {
  const markdown = await import(new URL("../../../static/room/markdown.js", import.meta.url));
  const failures = run(markdown, null);
  for (const f of failures) console.error(f);
  console.log(failures.length === 0 ? "markdown: all passed" : `markdown: ${failures.length} failed`);
  process.exit(failures.length === 0 ? 0 : 1);
}
