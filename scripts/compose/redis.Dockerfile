# Stand-in for the official redis image where no registry is reachable (scripts/compose-up.sh
# builds it from the local base image): Debian's redis-server, run the way docker-compose.yml
# runs the official image (command redis-server ..., data in /data).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN mkdir -p /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
