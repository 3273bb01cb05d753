from groundwatch.cli import app

app()
