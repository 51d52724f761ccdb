# Copies the case-file reference (src/case/reference.toml) into README.md.
# Usage: python3 .ci/sync_readme.py .   (tests/readme.rs fails when the two differ)
import sys
root = sys.argv[1]
block = open(f"{root}/src/case/reference.toml").read()
readme = open(f"{root}/README.md").read()
start = readme.index("<!-- case-reference:start -->")
end = readme.index("<!-- case-reference:end -->")
readme = readme[:start] + "<!-- case-reference:start -->\n```toml\n" + block + "```\n" + readme[end:]
open(f"{root}/README.md", "w").write(readme)
