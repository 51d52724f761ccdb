# Copies the case-file reference (the ```toml block of the doc comment of src/case/mod.rs) into README.md.
# Usage: python3 .ci/sync_readme.py .   (tests/readme.rs fails when the two differ)
import sys
root = sys.argv[1]
src = open(f"{root}/src/case/mod.rs").read().splitlines()
lines = [l[4:] if l.startswith("//! ") else l[3:] for l in src if l.startswith("//!")]
text = "\n".join(lines)
block = text.split("```toml\n", 1)[1].split("```", 1)[0]
readme = open(f"{root}/README.md").read()
start = readme.index("<!-- case-reference:start -->")
end = readme.index("<!-- case-reference:end -->")
readme = readme[:start] + "<!-- case-reference:start -->\n```toml\n" + block + "```\n" + readme[end:]
open(f"{root}/README.md", "w").write(readme)
