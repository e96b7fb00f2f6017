// Shows each <time class="local"> in the viewer's own time zone; the UTC time stays in its
// title (on hover). Without JavaScript the page shows UTC, labelled as such.
document.querySelectorAll("time.local[datetime]").forEach((element) => {
  const when = new Date(element.getAttribute("datetime"));
  if (!Number.isNaN(when.getTime())) {
    element.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
});
