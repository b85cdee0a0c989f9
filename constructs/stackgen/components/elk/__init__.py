"""The optional Elasticsearch and Kibana log stack on ECK (`logs.backend: elasticsearch | both`).

- eck_operator: the ECK operator (operators stage) and eck_model, the typed ECK objects it reconciles;
- elasticsearch: the cluster, its snapshot repository and exporter; elasticsearch_setup with
  es_setup_script: the Job that creates index templates, ILM policies and users;
- kibana with saved_searches: Kibana and the log searches it ships with;
- es_shipping: what the Fluent Bit shippers add to send logs there.
Its alerts are rules/elasticsearch.py; its dashboard dashboards/stack_elasticsearch.py.
"""
