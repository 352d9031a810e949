FROM python:3.11-slim
WORKDIR /srv/fieldrep
COPY pyproject.toml constraints.txt README.md ./
COPY backend ./backend
COPY routing ./routing
COPY notifications ./notifications
COPY mobile_client ./mobile_client
COPY graphql ./graphql
ENV FIELDREP_ROUTING_CACHE_DIR=/srv/fieldrep/routing-cache
RUN pip install --no-cache-dir -c constraints.txt . \
 && fieldrep routing build routing/data/liechtenstein.osm.pbf --cache-dir /srv/fieldrep/routing-cache
EXPOSE 8000
CMD ["fieldrep", "serve", "--host", "0.0.0.0", "--port", "8000"]
