"""`ethox-uk new`: start an app from a template (the work is in ethox_uk/scaffold.py).
cli/__init__.py registers it."""

import click

from ..scaffold import DEFAULT_TEMPLATE, TEMPLATES


@click.command()
@click.argument("name")
@click.option("-t", "--template", type=click.Choice(TEMPLATES), default=DEFAULT_TEMPLATE,
              show_default=True,
              help="http: a page on port 80; echo: UDP and TCP echo on 7; asyncio: a TCP "
                   "line server on asyncio streams, port 7.")
@click.option("-C", "--dir", "parent", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to make the NAME folder (default images/ when the working "
                   "directory has one, else the working directory).")
def new(name, template, parent):
    """Make a new app NAME: a folder with a commented recipe.toml and app.py that builds
    and boots as it is; prints the commands that do.

    \b
    Examples:
      ethox-uk new myapp                      # HTTP on port 80
      ethox-uk new udpthing --template echo
    """
    from .image import CommandError
    from ..scaffold import ScaffoldError, create

    try:
        target = create(name, template, parent)
    except ScaffoldError as e:
        raise CommandError(str(e), 2) from None
    except OSError as e:
        raise CommandError("cannot write %s: %s" % (name, e.strerror or e), 1) from None
    port = 80 if template == "http" else 7
    host = 8080 if port == 80 else 7007
    click.echo("created %s/ (recipe.toml, app.py; template %s)" % (target, template))
    click.echo("next:\n"
               "  ethox-uk build %s\n"
               "  ethox-uk run -d --name %s -p %d:%d build/%s.elf\n"
               "  %s\n"
               "  ethox-uk stop %s"
               % (target, name, host, port, name,
                  "curl localhost:%d" % host if port == 80
                  else "echo hi | nc -q1 127.0.0.1 %d" % host, name))


COMMANDS = (new,)
