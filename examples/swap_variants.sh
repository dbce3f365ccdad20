#!/usr/bin/env bash
# Swapping variants from YAML: the same data, networks and trainer; only the model lines change.
set -euo pipefail
ganmods fit -c configs/toy/sgan.yaml                                   # a shipped config
ganmods fit -c configs/toy/sgan.yaml --model ganmods.RaGAN --model.init_args.kind rahinge  # another loss
ganmods fit -c configs/toy/sgan.yaml --model.init_args.gp_weight 0.1   # SGAN + gradient penalty
ganmods fit -c configs/toy/wgan_gp.yaml --data.dataset grid25          # another dataset
