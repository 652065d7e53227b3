# `make demo` and `make test` set everything up on a fresh machine.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test bench zoo clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Trains a RealNVP on two moons (progress bar), then writes a density plot,
# a samples plot, metrics.json and the SavedModel under demo_out/.
demo: $(STAMP)
	rm -rf demo_out/realnvp_two_moons
	$(VENV)/bin/tfgen train realnvp --data two_moons --steps 3000 --out demo_out/realnvp_two_moons
	@echo "Demo outputs: demo_out/realnvp_two_moons/{density.png,samples.png,metrics.json,saved_model/}"

# Two workers: the suite is mostly single-threaded TF tracing.
test: $(STAMP)
	$(PYTHON) -m pytest -q -n 2

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# tfgen's MAF against zuko's (PyTorch CPU): KL gaps, speed, digits; then
# tfgen's VAE and DCGAN against the same models in PyTorch on digits (3
# seeds each; `bench/gan_vs_torch.py --model wgan_gp` for the WGAN-GP), and
# its DDPM against diffusers' (2 seeds, about an hour). Also by hand:
# bench/flows_2d.py compares tfgen's own Keras settings.
bench: $(BENCH_STAMP)
	$(PYTHON) bench/maf_vs_zuko.py
	$(PYTHON) bench/vae_vs_torch.py
	$(PYTHON) bench/gan_vs_torch.py
	$(PYTHON) bench/ddpm_vs_diffusers.py

# Every registered model with its defaults on digits and two 2D toys, one
# after another (about 20 minutes on 2 cores); writes the table into
# saved_models/README.md. Runs already in bench/zoo_runs/ are reused.
zoo: $(STAMP)
	$(PYTHON) bench/zoo.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
