// Carry a key given in the fragment (#key=...) on to the pages.
const hash = location.hash;
if (hash.includes("key=")) {
  for (const id of ["to-console", "to-checkout"]) document.getElementById(id).href += hash;
}
