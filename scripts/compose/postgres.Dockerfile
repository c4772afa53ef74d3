# Stand-in for the official postgres image where no registry is reachable (scripts/compose-up.sh
# builds it from the local base image): Debian's PostgreSQL, configured by the same variables
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA) and keeping its data in the same place.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
EXPOSE 5432
# The official image's: "fast" shutdown (SIGTERM would wait for clients to disconnect).
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
