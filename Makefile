# The two commands of the course (both install what is missing first):
#   make course   open the course in JupyterLab
#   make test     run the whole test suite
.PHONY: course test install release release-check clean slides site experiments

course:
	bash scripts/course.sh $(LAB_ARGS)

test:
	bash scripts/test.sh

install:
	bash -c 'source scripts/_install.sh && ensure_installed'

release: install          ## (course authors) regenerate exercises/ from solutions/; a worked-in workbook is kept (RELEASE_ARGS=--force: replaced after a backup in exercises/.backup/)
	.venv/bin/python -m course_utils release $(RELEASE_ARGS)

release-check: install    ## (course authors) say which workbooks differ from solutions/ and why; writes nothing
	.venv/bin/python -m course_utils release --check

clean:
	rm -rf .venv .pytest_cache

experiments: install      ## remake cached experiments (hours): make experiments NAMES="ppo_ablation" (NAMES=list names them)
	.venv/bin/python -m course_utils experiments $(NAMES)

slides: install           ## export every lesson to offline HTML slides in build/slides/
	.venv/bin/python -m course_utils slides --out build/slides

site: install             ## the course website, offline HTML, in build/site/ (SITE_ARGS="--hub-url https://...")
	.venv/bin/python -m course_utils site --out build/site $(SITE_ARGS)
