"""Opening a closed form on the case page as a person would (issue 15, item 5): each act's form
sits in a <details> whose summary is the act's button, the secondary ones inside "更多操作"."""
from __future__ import annotations


def reveal(page, selector: str):
    """Click the summaries of the closed <details> around ``selector``, outermost first; → its locator."""
    target = page.locator(selector).first
    closed = target.evaluate("""el => {
        const ids = [];
        for (let d = el.closest('details'); d; d = d.parentElement.closest('details')) if (!d.open) ids.unshift(d.id);
        return ids;
    }""")
    for box in closed:
        assert box, f"a closed <details> without an id around {selector}"
        page.locator(f"[id='{box}'] > summary").click()
    return page.locator(selector)
