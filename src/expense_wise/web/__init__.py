"""What a browser sees: the pages behind the links in emails, the offline API documentation
and their static assets (served from the package; nothing is built or fetched at run time)."""
