"""Autoscaling study for inferd: measure one replica, replay a day, prove the signal.

- `measure`: capacity, cold start, CPU and memory of one replica (writes measured.json)
- `hpa`: the HorizontalPodAutoscaler's replica algorithm, as Kubernetes documents it
- `schedule`: KEDA cron windows from the ScaledObject
- `simulate`: a day-shaped load curve against scheduled, dynamic and both
- `signal`: the in-flight signal read from Prometheus on the compose fleet
"""
