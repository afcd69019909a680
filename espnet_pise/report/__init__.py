"""Result tables and plots of the recipes."""
